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

# Candidates for the parse of node answers (bench/json_parse_bench.c; docs/benchmarks.md):
# beside jansson and core/jsonr.c, cJSON and simdjson's On-Demand API when their Debian
# packages are installed (scripts/setup.sh lists them). simdjson is C++: the language is
# enabled only for it, behind a C ABI file; nothing of fedbroker itself is C++.
pkg_check_modules(CJSON IMPORTED_TARGET libcjson)
if(CJSON_FOUND)
  target_link_libraries(json_parse_bench PRIVATE PkgConfig::CJSON)
  target_compile_definitions(json_parse_bench PRIVATE FB_HAVE_CJSON)
endif()
pkg_check_modules(SIMDJSON IMPORTED_TARGET simdjson)
include(CheckLanguage)
check_language(CXX)
if(SIMDJSON_FOUND AND CMAKE_CXX_COMPILER)
  enable_language(CXX)
  add_library(fb_bench_simdjson STATIC ${CMAKE_SOURCE_DIR}/bench/json_simdjson.cpp)
  set_target_properties(fb_bench_simdjson PROPERTIES CXX_STANDARD 17 CXX_STANDARD_REQUIRED ON)
  # -Wmissing-prototypes is a C warning (g++ says so on every compile).
  get_target_property(simdjson_opts fb_bench_simdjson COMPILE_OPTIONS)
  list(REMOVE_ITEM simdjson_opts -Wmissing-prototypes)
  set_target_properties(fb_bench_simdjson PROPERTIES COMPILE_OPTIONS "${simdjson_opts}")
  # On-Demand's kernels are picked at compile time: without this, the scalar fallback.
  target_compile_options(fb_bench_simdjson PRIVATE -march=native)
  target_link_libraries(fb_bench_simdjson PRIVATE PkgConfig::SIMDJSON)
  target_link_libraries(json_parse_bench PRIVATE fb_bench_simdjson)
  target_compile_definitions(json_parse_bench PRIVATE FB_HAVE_SIMDJSON)
endif()
