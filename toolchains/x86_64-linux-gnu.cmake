# Not a board: the boards' static configuration (toolchains/deps.sh
# x86_64-linux-gnu, FM_STATIC) built for the build machine itself, so the
# static agent's memory can be measured natively beside the dynamic one
# (bench/b_agent.sh). Debian's native gcc under its triplet name; no
# emulator: the programs run as they are.
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(FM_TRIPLET x86_64-linux-gnu)
set(FM_QEMU "")
include(${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake)
