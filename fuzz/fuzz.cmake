# libFuzzer targets: fuzz/fuzz_*.c, one executable each (fuzz_<name>), linked against
# every module; fuzz/corpus/<name>/ is each one's seed corpus. Built only with FB_FUZZ;
# `cmake --build build-fuzz --target fuzz_all` builds them all, bench/fuzz.sh runs them.
file(GLOB fuzz_srcs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_*.c)
add_custom_target(fuzz_all)
foreach(src ${fuzz_srcs})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src} ${CMAKE_SOURCE_DIR}/fuzz/common.c ${CMAKE_SOURCE_DIR}/fuzz/net_harness.c)
  target_link_libraries(${name} PRIVATE fb_hub fb_search fb_net fb_auth fb_audit fb_policy fb_adapters fb_config fb_lua fb_core)
  target_compile_definitions(${name} PRIVATE FB_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  add_dependencies(fuzz_all ${name})
endforeach()
