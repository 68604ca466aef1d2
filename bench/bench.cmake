# Micro-benchmarks: bench/*_bench.c, one executable each, linked against every module.
# Run them by hand or through bench/run.sh; they are not tests.
file(GLOB bench_srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/bench/*_bench.c)
foreach(src ${bench_srcs})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE fb_hub fb_search fb_net fb_auth fb_audit fb_policy fb_demo fb_adapters fb_config fb_lua fb_core)
  target_compile_definitions(${name} PRIVATE FB_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
endforeach()

# A national node that answers every search with one captured answer (the load scripts'
# NODES=canned, bench/rss_bench.sh): libuv and http-parser only.
add_executable(canned_node ${CMAKE_SOURCE_DIR}/bench/canned_node.c)
target_link_libraries(canned_node PRIVATE PkgConfig::UV ${HTTP_PARSER_LIB})
