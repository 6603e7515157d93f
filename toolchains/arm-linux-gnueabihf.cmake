# Cross toolchain: 32-bit ARMv7 hard-float (Raspberry Pi 2-5 on a 32-bit OS;
# Debian's armhf is ARMv7, not the ARMv6 of a Pi Zero or Pi 1), Debian's
# gcc-arm-linux-gnueabihf, run under qemu-arm-static.
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(FM_TRIPLET arm-linux-gnueabihf)
set(FM_QEMU qemu-arm-static)
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake)
