#!/usr/bin/env bash
# Records a released strata-api as the baseline that bnd-baseline-maven-plugin compares
# every build of bundles/api with (see "API versions" in the top README).
#
#   bundles/api/baseline.sh COMMIT VERSION
#
# Builds bundles/api as it was at COMMIT (a git worktree in a temporary directory; nothing
# is installed into ~/.m2), with Bundle-Version VERSION, and stores the jar as
# io.strata:strata-api-baseline:VERSION in bundles/api/baseline-repo, a file-based Maven
# repository kept in git. Then set <strata.api.baseline> in bundles/api/pom.xml to VERSION.
set -euo pipefail

(($# == 2)) || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
commit="$1" version="$2"
[[ "$version" =~ ^[1-9][0-9]*\.[0-9]+\.[0-9]+$ ]] || { echo "baseline: VERSION must be M.m.u with M >= 1" >&2; exit 2; }

api="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(git -C "$api" rev-parse --show-toplevel)"
tree="$(mktemp -d)/strata"
cleanup() { git -C "$root" worktree remove --force "$tree" 2>/dev/null || true; }
trap cleanup EXIT
git -C "$root" worktree add --detach --quiet "$tree" "$commit"

# The released sources, with the Maven version set to VERSION (bnd derives Bundle-Version
# from it unless bundles/api sets Bundle-Version itself).
sed -i "0,/<artifactId>strata-api<\/artifactId>/s//<artifactId>strata-api<\/artifactId><version>$version<\/version>/" \
    "$tree/bundles/api/pom.xml"
mvn -B -q --no-transfer-progress -f "$tree/bundles/api/pom.xml" -DskipTests package
jar="$tree/bundles/api/target/strata-api-$version.jar"
built="$(unzip -p "$jar" META-INF/MANIFEST.MF | tr -d '\r' | sed -n 's/^Bundle-Version: //p')"
[[ "$built" == "$version" ]] || { echo "baseline: $commit builds Bundle-Version $built, not $version" >&2; exit 1; }

dir="$api/baseline-repo/io/strata/strata-api-baseline/$version"
mkdir -p "$dir"
cp "$jar" "$dir/strata-api-baseline-$version.jar"
cat >"$dir/strata-api-baseline-$version.pom" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.strata</groupId>
  <artifactId>strata-api-baseline</artifactId>
  <version>$version</version>
  <description>strata-api as released at $(git -C "$root" rev-parse --short "$commit"), the baseline of bnd-baseline-maven-plugin</description>
</project>
EOF
for f in "$dir"/*.jar "$dir"/*.pom; do
    sha1sum "$f" | cut -d' ' -f1 | tr -d '\n' >"$f.sha1"
done
echo "baseline: stored ${dir#"$root"/}; now set <strata.api.baseline>$version</strata.api.baseline> in bundles/api/pom.xml"
