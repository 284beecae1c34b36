# The fuzz build (scripts/build fuzz, build-fuzz/): clang's libFuzzer with
# AddressSanitizer and UndefinedBehaviorSanitizer, building ONLY the fuzz
# targets in fuzz/ and the few libraries they read bytes with (domain,
# protocol, orders, and persistence's row codec). Included by the top-level
# CMakeLists.txt when STOCKGRID_FUZZ is ON, which then builds nothing else.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "STOCKGRID_FUZZ needs clang (libFuzzer): configure with CXX=clang++-14")
endif()

# Libraries are instrumented for coverage without libFuzzer's main; the fuzz
# targets link it (fuzz/CMakeLists.txt). A UBSan report aborts, so libFuzzer
# records it as a crash with its input.
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                    -fno-omit-frame-pointer)
add_link_options(-fsanitize=address,undefined)

find_package(SQLite3 REQUIRED)
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(msgpack-cxx REQUIRED CONFIG NAMES msgpack-cxx msgpack)

add_subdirectory(domain)
add_subdirectory(protocol)
add_subdirectory(orders)

include(CTest)
add_subdirectory(fuzz)
