# Cross toolchain: 64-bit ARM (Raspberry Pi 3/4/5 on a 64-bit OS, Jetson),
# Debian's gcc-aarch64-linux-gnu. No flags here: the build decides those.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
# Target programs (tests, try_run) run under qemu-user: binfmt_misc may not
# be registered on the build machine, so the emulator is named.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static)
# Libraries and headers come only from CMAKE_FIND_ROOT_PATH (the prefix
# toolchains/deps.sh builds); programs from the build machine.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
