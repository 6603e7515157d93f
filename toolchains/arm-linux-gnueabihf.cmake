# Cross toolchain: 32-bit ARMv7 hard-float (Raspberry Pi 2-5 on a 32-bit OS),
# Debian's gcc-arm-linux-gnueabihf. No flags here: the build decides those.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
# Target programs (tests, try_run) run under qemu-user: binfmt_misc may not
# be registered on the build machine, so the emulator is named.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm-static)
# Libraries and headers come only from CMAKE_FIND_ROOT_PATH (the prefix
# toolchains/deps.sh builds); programs from the build machine.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
