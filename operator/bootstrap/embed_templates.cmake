# Writes a C++ source that embeds every template file as a raw string literal.
# Inputs: SOURCE_DIR (the cloud-init folder), OUTPUT (the .cpp to write), FILES (relative paths
# separated by "|").
string(REPLACE "|" ";" FILES "${FILES}")
set(out "// Generated from cloud-init/ by embed_templates.cmake. Do not edit.\n")
string(APPEND out "#include \"bootstrap/internal/builtin_templates.h\"\n\n")
string(APPEND out "namespace pygrid::bootstrap::internal {\n\nconst EmbeddedFile kEmbeddedTemplates[] = {\n")
foreach(file IN LISTS FILES)
  file(READ "${SOURCE_DIR}/${file}" content)
  string(FIND "${content}" ")pygrid_template\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "${file} contains the raw-string delimiter )pygrid_template\"")
  endif()
  string(APPEND out "    {\"${file}\", R\"pygrid_template(${content})pygrid_template\"},\n")
endforeach()
string(APPEND out "    {nullptr, nullptr},\n};\n\n}  // namespace pygrid::bootstrap::internal\n")
file(WRITE "${OUTPUT}.tmp" "${out}")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
