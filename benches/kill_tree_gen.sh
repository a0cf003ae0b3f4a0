#!/usr/bin/env bash
# Builds a tree of about 1,000 processes for benches/kill_tree.py, under the
# shell that runs this script (started as a session and group leader):
#   720 sleeping (20 subshells of 35 `sleep`), 200 ignoring SIGTERM,
#   60 `setsid sleep` children, 10 `setsid sh` with 2 grandchildren each,
#   4 busy loops, and one live fork loop whose children live 2 s.
# Every process is bounded in time (sleeps of 300 s at most); the benchmark
# ends them all through the cgroup it starts this script in.
set -u
for g in $(seq 1 20); do
    ( for i in $(seq 1 35); do sleep 300 & done; wait ) &
done
for g in $(seq 1 4); do
    ( trap '' TERM; for i in $(seq 1 50); do sleep 300 & done; wait ) &
done
for i in $(seq 1 60); do setsid sleep 300 & done
for i in $(seq 1 10); do setsid sh -c 'sleep 300 & sleep 300 & wait' & done
for i in $(seq 1 4); do ( end=$((SECONDS + 300)); while [ $SECONDS -lt $end ]; do :; done ) & done
( end=$((SECONDS + 300)); while [ $SECONDS -lt $end ]; do sleep 2 & sleep 0.02; done ) &
echo started
wait
