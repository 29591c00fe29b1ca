file(REMOVE_RECURSE
  "CMakeFiles/bkcommon.dir/buf.c.o"
  "CMakeFiles/bkcommon.dir/buf.c.o.d"
  "CMakeFiles/bkcommon.dir/clock.c.o"
  "CMakeFiles/bkcommon.dir/clock.c.o.d"
  "CMakeFiles/bkcommon.dir/error.c.o"
  "CMakeFiles/bkcommon.dir/error.c.o.d"
  "CMakeFiles/bkcommon.dir/fs.c.o"
  "CMakeFiles/bkcommon.dir/fs.c.o.d"
  "CMakeFiles/bkcommon.dir/hash.c.o"
  "CMakeFiles/bkcommon.dir/hash.c.o.d"
  "CMakeFiles/bkcommon.dir/id.c.o"
  "CMakeFiles/bkcommon.dir/id.c.o.d"
  "CMakeFiles/bkcommon.dir/log.c.o"
  "CMakeFiles/bkcommon.dir/log.c.o.d"
  "CMakeFiles/bkcommon.dir/revision.c.o"
  "CMakeFiles/bkcommon.dir/revision.c.o.d"
  "CMakeFiles/bkcommon.dir/revspec.c.o"
  "CMakeFiles/bkcommon.dir/revspec.c.o.d"
  "CMakeFiles/bkcommon.dir/schedule.c.o"
  "CMakeFiles/bkcommon.dir/schedule.c.o.d"
  "CMakeFiles/bkcommon.dir/strv.c.o"
  "CMakeFiles/bkcommon.dir/strv.c.o.d"
  "CMakeFiles/bkcommon.dir/ydoc.c.o"
  "CMakeFiles/bkcommon.dir/ydoc.c.o.d"
  "libbkcommon.a"
  "libbkcommon.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/bkcommon.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
