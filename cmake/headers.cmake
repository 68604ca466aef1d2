# Module boundaries in the include path.
#
# Sources include headers as "<folder>/<name>.h" ("net/server.h"). Instead of the whole
# tree, each module gets two staged include directories of links to its own headers:
#   build/include/public/fb_<module>/<folder>/   every .h but internal.h and *_impl.h:
#                                                 PUBLIC, so whoever links the module
#                                                 sees these and nothing else of it;
#   build/include/private/fb_<module>/<folder>/  internal.h and *_impl.h: PRIVATE to
#                                                 the module (and its unit tests).
# A module therefore compiles only against its own headers and the public headers of
# the modules it links; an include of anything else fails at compile time. The links
# point into the source tree, so editing a header needs no re-configure (adding one
# does, as for sources: CONFIGURE_DEPENDS).

set(FB_INCLUDE_STAGE ${CMAKE_BINARY_DIR}/include)

# fb_stage_headers(<target> <folder relative to the source root> <scope of the public dir>)
function(fb_stage_headers target dir scope)
  get_filename_component(folder ${dir} NAME)
  set(pub ${FB_INCLUDE_STAGE}/public/${target})
  set(priv ${FB_INCLUDE_STAGE}/private/${target})
  file(REMOVE_RECURSE ${pub} ${priv}) # a header removed from the folder goes too
  file(MAKE_DIRECTORY ${pub}/${folder} ${priv}/${folder})
  file(GLOB hdrs CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${dir}/*.h)
  foreach(h ${hdrs})
    get_filename_component(n ${h} NAME)
    if(n STREQUAL "internal.h" OR n MATCHES "_impl\\.h$")
      file(CREATE_LINK ${h} ${priv}/${folder}/${n} SYMBOLIC)
    else()
      file(CREATE_LINK ${h} ${pub}/${folder}/${n} SYMBOLIC)
    endif()
  endforeach()
  target_include_directories(${target} ${scope} ${pub})
  if(NOT scope STREQUAL "INTERFACE")
    target_include_directories(${target} PRIVATE ${priv})
  endif()
endfunction()

# The private (internal) headers of module target `module`, for a white-box unit test.
function(fb_use_private_headers target module)
  target_include_directories(${target} PRIVATE ${FB_INCLUDE_STAGE}/private/${module})
endfunction()
