# Session-3 device call 2: attention variants side by side (A: Q in shared memory; C0: Q
# in registers; C1: Q in registers + softmax overlapped with P V), the attention test on
# the current kernel, and one Nsight Compute profile of the Hopper kernel.
set -o pipefail
export LD_LIBRARY_PATH=$PWD/.carry/gpu
export REAM_TEST_DATA_DIR=$PWD/tests/data
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee $OUT/gpu.txt
for v in A C0 C1; do echo "== variant $v"; timeout 120 .carry/gpu/bench_$v attention 2>&1 | grep -v decode | tee $OUT/bench_$v.log; done
timeout 150 .carry/gpu/cuda_attention_test --gtest_brief=1 > $OUT/attn_test.log 2>&1; echo "attention test rc $?"
grep -v "rng seed" $OUT/attn_test.log | tail -6
timeout 200 ncu --clock-control none -k regex:hopper --launch-skip 9 --launch-count 1 --section SpeedOfLight \
  --section WarpStateStats --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section Occupancy \
  .carry/gpu/bench_C1 attention > $OUT/ncu.txt 2>&1; echo "ncu rc $?"
grep -E "Duration|Throughput|Pipe|Stall|Warp Cycles|Issued|Active|Shared|L2 Hit|Registers|Eligible" $OUT/ncu.txt | head -60
exit 0
