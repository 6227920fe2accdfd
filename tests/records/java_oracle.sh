#!/usr/bin/env bash
# Builds the Java side with Maven (kafka-clients from Maven Central, cached in
# ~/.m2), then: kwire writes cases and its batches, Java builds the same cases
# and reads kwire's batches, kwire compares Java's batches with its own.
set -euo pipefail
exe=$1 work=$2
here=$(cd "$(dirname "$0")" && pwd)
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
mkdir -p "$work"
mvn -q -B -f "$here/java-oracle/pom.xml" -Doracle.build.dir="$work/maven" \
  package dependency:build-classpath -Dmdep.outputFile="$work/classpath.txt"
"$exe" gen "$work/cases.bin" "$work/kwire.bin"
"$java" -cp "$work/maven/classes:$(cat "$work/classpath.txt")" kwire.oracle.Oracle \
  "$work/cases.bin" "$work/java.bin" "$work/kwire.bin"
"$exe" check "$work/cases.bin" "$work/java.bin"
