# Cross toolchain: 64-bit ARM (Raspberry Pi 3/4/5 on a 64-bit OS, Jetson),
# Debian's gcc-aarch64-linux-gnu, run under qemu-aarch64-static.
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(FM_TRIPLET aarch64-linux-gnu)
set(FM_QEMU qemu-aarch64-static)
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake)
