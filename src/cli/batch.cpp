// SPDX-License-Identifier: Apache-2.0
#include "cli/batch.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

namespace bpfsig::cli {

namespace {

// "[##########..........]  37/200" on one line of stderr, redrawn in place.
class ProgressBar {
 public:
  ProgressBar(bool shown, size_t total) : shown_(shown), total_(total) {}
  void draw(size_t done) {
    if (!shown_) return;
    constexpr size_t kWidth = 30;
    const size_t filled = total_ ? done * kWidth / total_ : kWidth;
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r[%s] %zu/%zu", bar.c_str(), done, total_);
    std::fflush(stderr);
  }
  void clear() {
    if (!shown_) return;
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
  }

 private:
  bool shown_;
  size_t total_;
};

// The results as the workers finish them, and what the printer waits on.
struct Shared {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::optional<BatchItem>> items;
  size_t done = 0;
};

BatchItem run_one(const std::string& command, const std::string& input,
                  const std::function<BatchItem(const std::string&)>& work) {
  try {
    return work(input);
  } catch (const Error& e) {
    return batch_error(command, input, e);
  } catch (const std::bad_alloc&) {
    return batch_error(command, input, Error(ENOMEM, "out_of_memory", "out of memory"));
  } catch (const std::exception& e) {
    return batch_error(command, input, Error(EIO, "internal", e.what()));
  }
}

void print_item(const BatchItem& item, const Common& common) {
  if (common.json) return;  // printed together at the end
  std::cout << item.human;
  std::cout.flush();
  if (!item.ok) std::cerr << item.error_line;
}

}  // namespace

BatchItem batch_error(const std::string& command, const std::string& input, const Error& e) {
  BatchItem item;
  item.json = Json{{"ok", false},
                   {"file", input},
                   {"error", {{"errno", e.err()}, {"errno_name", e.err_name()}, {"kind", e.kind()}, {"message", e.what()}}}};
  // Library errors name their input already; the rest get it in front.
  const std::string message = std::string(e.what()).find(input) == std::string::npos ? input + ": " + e.what() : e.what();
  item.error_line = "bpfsig " + command + ": " + message + " [" + e.err_name() + ", " + e.kind() + "]\n";
  return item;
}

void run_batch(const std::string& command, const std::vector<std::string>& inputs,
               const std::function<BatchItem(const std::string&)>& work, const Common& common) {
  const auto start = std::chrono::steady_clock::now();
  Shared shared;
  shared.items.resize(inputs.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < inputs.size();) {
      BatchItem item = run_one(command, inputs[i], work);
      std::lock_guard<std::mutex> lock(shared.mutex);
      shared.items[i] = std::move(item);
      ++shared.done;
      shared.changed.notify_one();
    }
  };
  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, inputs.size());
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(worker);

  // Print each item once every item before it is printed: input order.
  ProgressBar bar(!common.json && isatty(STDERR_FILENO), inputs.size());
  size_t printed = 0, ok = 0, done = 0;
  Json results = Json::array();
  while (printed < inputs.size()) {
    std::vector<BatchItem> ready;
    {
      // Woken by every finished input, so that the bar moves even while an
      // earlier, slower input holds back the printing.
      std::unique_lock<std::mutex> lock(shared.mutex);
      shared.changed.wait(lock, [&] { return shared.items[printed].has_value() || shared.done != done; });
      for (size_t i = printed; i < inputs.size() && shared.items[i]; ++i) ready.push_back(std::move(*shared.items[i]));
      done = shared.done;
    }
    bar.clear();
    for (BatchItem& item : ready) {
      print_item(item, common);
      ok += item.ok;
      results.push_back(std::move(item.json));
    }
    printed += ready.size();
    bar.draw(done);
  }
  for (std::thread& t : pool) t.join();
  bar.clear();

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const size_t failed = inputs.size() - ok;
  if (common.json) {
    print_json(common, Json{{"ok", failed == 0},
                            {"results", std::move(results)},
                            {"summary", {{"inputs", inputs.size()}, {"ok", ok}, {"failed", failed}, {"seconds", seconds}}}});
  } else {
    char line[160];
    std::snprintf(line, sizeof line, "%s: %zu inputs: %zu ok, %zu failed, %.2f s\n", command.c_str(), inputs.size(), ok,
                  failed, seconds);
    std::cout << line;
  }
  if (failed) g_exit_code = 1;
}

}  // namespace bpfsig::cli
