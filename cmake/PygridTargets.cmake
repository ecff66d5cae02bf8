# Helpers that give every target of the project the same flags.

# Warnings for the project's own code; dependencies come in as SYSTEM includes.
function(pygrid_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow=local -Wnon-virtual-dtor
                                           -Wno-unused-parameter)
  if(PYGRID_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# pygrid_library(<name> SOURCES ... [DEPS ...]): a library of operator/ (include root operator/).
function(pygrid_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/operator)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  pygrid_warnings(${name})
endfunction()

# pygrid_test(<name> SOURCES ... [DEPS ...] [LABELS ...] [RUN_SERIAL]): one GoogleTest binary in
# <build>/bin, its tests discovered by ctest one by one at test time.
function(pygrid_test name)
  cmake_parse_arguments(ARG "RUN_SERIAL" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/operator ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    PYGRID_SOURCE_DIR="${PROJECT_SOURCE_DIR}" PYGRID_BIN_DIR="${CMAKE_RUNTIME_OUTPUT_DIRECTORY}")
  pygrid_warnings(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set(props TIMEOUT ${ARG_TIMEOUT})
  if(ARG_LABELS)
    list(APPEND props LABELS "${ARG_LABELS}")
  endif()
  if(ARG_RUN_SERIAL)
    list(APPEND props RUN_SERIAL TRUE)
  endif()
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST DISCOVERY_TIMEOUT 60 PROPERTIES ${props})
endfunction()

# pygrid_fast(<target>...): compile with -O1 when PYGRID_FAST_CORE is on (the ci preset), so the
# deterministic simulation's thousands of reconciles (JSON-heavy code that -O0 makes ~5x slower)
# fit CI's time budget. Other presets keep -O0 for debugging.
function(pygrid_fast)
  if(PYGRID_FAST_CORE)
    foreach(target ${ARGN})
      target_compile_options(${target} PRIVATE -O1)
    endforeach()
  endif()
endfunction()
