# What both board toolchain files share (included by toolchains/TRIPLET.cmake
# after it sets CMAKE_SYSTEM_PROCESSOR, FM_TRIPLET and FM_QEMU). Debian's
# cross GCC; no flags here: the build decides those.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${FM_TRIPLET}-gcc)
# Target programs (tests, try_run) run under qemu-user: binfmt_misc may not
# be registered on the build machine, so the emulator is named.
set(CMAKE_CROSSCOMPILING_EMULATOR ${FM_QEMU})
# Libraries and headers come only from CMAKE_FIND_ROOT_PATH or the paths a
# find_* call names (the prefix toolchains/deps.sh builds); programs from the
# build machine.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
