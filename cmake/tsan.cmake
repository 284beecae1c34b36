# The ThreadSanitizer build (scripts/build tsan, build-tsan/): gcc with
# -fsanitize=thread, building ONLY the libraries that do not link CAF and the
# unit tests of those that run threads. Included by the top-level
# CMakeLists.txt, after its find_package calls, when STOCKGRID_TSAN is ON;
# it then builds nothing else.
#
# Why not everything: Debian's libcaf is not instrumented, so TSan cannot see
# the synchronisation inside CAF's mailboxes and reports every message's
# payload as a race (and a two-actor program runs orders of magnitude slower).
# The actors/ folder, the program (app/) and every test that starts a node are
# therefore left out; what is built here knows no CAF: the journal and
# document writers, the power-cut VFS, the gateway, the client, the feed's
# publisher, the key store and the metrics. Reports from Debian's own
# uninstrumented libraries are suppressed in tsan.supp, each with its reason.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  message(FATAL_ERROR "STOCKGRID_TSAN is set up for gcc (libtsan): configure with CXX=g++")
endif()

add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
add_link_options(-fsanitize=thread)

# Every folder that links no CAF (actors/ and app/ do; web/ and bench/ are
# not needed by these tests).
foreach(folder metrics config domain protocol cluster orders gateway persistence feed auth client)
  add_subdirectory(${folder})
endforeach()

include(CTest)
add_subdirectory(tests)
