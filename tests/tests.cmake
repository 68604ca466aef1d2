# Helpers shared by the unit tests (tests/unit/common: not a module, holds no tests).
# An object library: its start-up hook (fb_json_use_xalloc) is linked into every test.
add_library(fb_test_common OBJECT ${CMAKE_SOURCE_DIR}/tests/unit/common/unit_common.c)
target_include_directories(fb_test_common PUBLIC ${CMAKE_SOURCE_DIR}/tests/unit/common)
target_link_libraries(fb_test_common PUBLIC fb_core fb_demo PkgConfig::CMOCKA)

# Unit tests: tests/unit/<module>/test_*.c, one executable each, linked against fb_<module>,
# fb_demo (the synthetic records several modules' tests use as fixtures), fb_test_common and
# the module's own test helpers (tests/unit/<module>/support_*.c). A test sees the public
# headers of what it links, its module's internal headers (white box) and the source root
# (for its own helpers, "tests/unit/<module>/x.h").

# ThreadSanitizer slows the property tests (prove, policy typos) past two minutes.
set(fb_unit_timeout 120)
if(FB_TSAN)
  set(fb_unit_timeout 900)
endif()
file(GLOB unit_dirs LIST_DIRECTORIES true ${CMAKE_SOURCE_DIR}/tests/unit/*)
foreach(dir ${unit_dirs})
  get_filename_component(module ${dir} NAME)
  if(IS_DIRECTORY ${dir} AND NOT module STREQUAL "common")
    file(GLOB tests CONFIGURE_DEPENDS ${dir}/test_*.c)
    file(GLOB support CONFIGURE_DEPENDS ${dir}/support_*.c)
    foreach(src ${tests})
      get_filename_component(name ${src} NAME_WE)
      set(target unit_${module}_${name})
      add_executable(${target} ${src} ${support})
      target_link_libraries(${target} PRIVATE fb_${module} fb_demo fb_test_common PkgConfig::CMOCKA)
      fb_use_private_headers(${target} fb_${module})
      target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR})
      target_compile_definitions(${target} PRIVATE FB_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
      add_test(NAME ${target} COMMAND ${target})
      set_tests_properties(${target} PROPERTIES TIMEOUT ${fb_unit_timeout} LABELS unit)
    endforeach()
  endif()
endforeach()

# Integration tests: tests/integration/*.sh start the real binary.
file(GLOB itests CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/integration/*.sh)
foreach(script ${itests})
  get_filename_component(name ${script} NAME_WE)
  add_test(NAME it_${name} COMMAND bash ${script})
  set_tests_properties(it_${name} PROPERTIES TIMEOUT 300 LABELS integration SKIP_RETURN_CODE 77
    ENVIRONMENT "FEDBROKER=$<TARGET_FILE:fedbroker>;FB_SOURCE_DIR=${CMAKE_SOURCE_DIR};FB_BUILD_DIR=${CMAKE_BINARY_DIR}")
endforeach()

# The mutation list stays applicable: every mutant's `from` text still stands in its file
# once (the mutation run itself is slow and not part of ctest; docs/testing.md).
add_test(NAME mutants_apply COMMAND bash ${CMAKE_SOURCE_DIR}/tests/mutation/run.sh --check)
set_tests_properties(mutants_apply PROPERTIES TIMEOUT 60 LABELS unit)
