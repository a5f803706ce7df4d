#!/bin/sh
# Renders the Alertmanager config template from the environment:  render-config.sh TEMPLATE OUTPUT
# Every ${NAME} outside comment lines becomes the variable's value with each ' doubled (the template
# quotes every placeholder in single quotes, so any value is valid YAML); an unset variable stops it,
# naming the variable, and writes nothing. POSIX sh and awk only (busybox in the prom/alertmanager image).
set -eu
template=$1
output=$2
awk '
/^[ \t]*#/ { print; next }  # comments are copied as they are
{
    line = $0
    rendered = ""
    while (match(line, /\$\{[A-Za-z_][A-Za-z0-9_]*\}/)) {
        name = substr(line, RSTART + 2, RLENGTH - 3)
        if (!(name in ENVIRON)) {
            printf "render-config.sh: %s is not set (line %d of %s)\n", name, NR, FILENAME > "/dev/stderr"
            exit 1
        }
        value = ENVIRON[name]
        gsub(/\047/, "\047\047", value)
        rendered = rendered substr(line, 1, RSTART - 1) value
        line = substr(line, RSTART + RLENGTH)
    }
    print rendered line
}
' "$template" > "$output.tmp" || { rm -f "$output.tmp"; exit 1; }
mv "$output.tmp" "$output"
