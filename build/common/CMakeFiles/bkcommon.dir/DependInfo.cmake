
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/common/buf.c" "common/CMakeFiles/bkcommon.dir/buf.c.o" "gcc" "common/CMakeFiles/bkcommon.dir/buf.c.o.d"
  "/work/main/common/clock.c" "common/CMakeFiles/bkcommon.dir/clock.c.o" "gcc" "common/CMakeFiles/bkcommon.dir/clock.c.o.d"
  "/work/main/common/error.c" "common/CMakeFiles/bkcommon.dir/error.c.o" "gcc" "common/CMakeFiles/bkcommon.dir/error.c.o.d"
  "/work/main/common/fs.c" "common/CMakeFiles/bkcommon.dir/fs.c.o" "gcc" "common/CMakeFiles/bkcommon.dir/fs.c.o.d"
  "/work/main/common/hash.c" "common/CMakeFiles/bkcommon.dir/hash.c.o" "gcc" "common/CMakeFiles/bkcommon.dir/hash.c.o.d"
  "/work/main/common/id.c" "common/CMakeFiles/bkcommon.dir/id.c.o" "gcc" "common/CMakeFiles/bkcommon.dir/id.c.o.d"
  "/work/main/common/log.c" "common/CMakeFiles/bkcommon.dir/log.c.o" "gcc" "common/CMakeFiles/bkcommon.dir/log.c.o.d"
  "/work/main/common/revision.c" "common/CMakeFiles/bkcommon.dir/revision.c.o" "gcc" "common/CMakeFiles/bkcommon.dir/revision.c.o.d"
  "/work/main/common/revspec.c" "common/CMakeFiles/bkcommon.dir/revspec.c.o" "gcc" "common/CMakeFiles/bkcommon.dir/revspec.c.o.d"
  "/work/main/common/schedule.c" "common/CMakeFiles/bkcommon.dir/schedule.c.o" "gcc" "common/CMakeFiles/bkcommon.dir/schedule.c.o.d"
  "/work/main/common/strv.c" "common/CMakeFiles/bkcommon.dir/strv.c.o" "gcc" "common/CMakeFiles/bkcommon.dir/strv.c.o.d"
  "/work/main/common/ydoc.c" "common/CMakeFiles/bkcommon.dir/ydoc.c.o" "gcc" "common/CMakeFiles/bkcommon.dir/ydoc.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
