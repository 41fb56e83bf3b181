// SPDX-License-Identifier: Apache-2.0
// A main() for a libFuzzer target built without libFuzzer: runs the target
// once on each file named on the command line (seeds and crash reproducers),
// so ctest replays every corpus, under ASan too (tests/fuzz). Exits non-zero
// only if an input cannot be read; a bug in the target aborts, as it would
// under the fuzzer.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  int ran = 0;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "replay: cannot read %s\n", argv[i]);
      return 2;
    }
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // libFuzzer never passes a null pointer, even for an empty input.
    uint8_t empty = 0;
    LLVMFuzzerTestOneInput(bytes.empty() ? &empty : bytes.data(), bytes.size());
    ++ran;
  }
  std::printf("replay: %d input(s) ok\n", ran);
  return 0;
}
