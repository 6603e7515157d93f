# Turns the shipped rule files (IN: a ;-list, in order) into a C source (OUT)
# defining fm_rules_default_text(): the static agent has no data files. (A
# function, not an exported array: sanitizers export extra symbols for
# global arrays.) Comment lines are emptied, not removed: the parser skips
# them either way, and a line number in a message about a shipped rule is
# still its line in the file (7 kB of the board's binary).
set(text "")
foreach(f ${IN})
  file(READ "${f}" part)
  string(REGEX REPLACE "^[ \t]*#[^\n]*" "" part "${part}")
  string(REGEX REPLACE "\n[ \t]*#[^\n]*" "\n" part "${part}")
  string(HEX "${part}" part)
  string(APPEND text "${part}0a")
endforeach()
string(LENGTH "${text}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${text}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp"
  "/* Generated from firmware-agent/rules/NAME.rules by rules/embed.cmake. */\n"
  "#include <stddef.h>\n"
  "const char *fm_rules_default_text(size_t *len);\n"
  "static const char text[] = {\n${bytes}0x00};\n"
  "const char *fm_rules_default_text(size_t *len)\n{\n\t*len = ${len};\n\treturn text;\n}\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
