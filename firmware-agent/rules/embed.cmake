# Turns the shipped rule files (IN: a ;-list, in order) into a C source (OUT)
# defining fm_rules_default_text/len: the static agent has no data files.
set(text "")
foreach(f ${IN})
  file(READ "${f}" part HEX)
  string(APPEND text "${part}0a")
endforeach()
string(LENGTH "${text}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${text}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp"
  "/* Generated from firmware-agent/rules/NAME.rules by rules/embed.cmake. */\n"
  "#include <stddef.h>\n"
  "extern const char fm_rules_default_text[];\n"
  "extern const size_t fm_rules_default_len;\n"
  "const char fm_rules_default_text[] = {\n${bytes}0x00};\n"
  "const size_t fm_rules_default_len = ${len};\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
