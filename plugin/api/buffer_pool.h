#pragma once
// Byte buffers for the hot path that are reused instead of allocated per request, and never
// zero-filled before they are overwritten. The HTTP and gRPC ingests take a request body's buffer
// from one BufferPool per service and give it back after the answer; the pool keeps the pages a
// buffer already faulted in, so the steady state costs no page faults, and gives memory back to the
// OS when buffers stay idle (docs/operations.md, "Memory").

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

namespace llmobs_edge::plugin {

// A move-only byte buffer whose growth does not initialize the new bytes. Large buffers are
// anonymous mappings (huge pages where the kernel offers them), small ones come from the heap.
class ByteBuffer {
 public:
  ByteBuffer() = default;
  explicit ByteBuffer(size_t capacity);
  ~ByteBuffer();
  ByteBuffer(ByteBuffer&& other) noexcept;
  ByteBuffer& operator=(ByteBuffer&& other) noexcept;
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {data_, size_}; }

  // Sets the size to `n`. Bytes up to the old size are kept; new bytes are NOT initialized (the
  // caller is about to overwrite them). Growing may move the storage.
  void ResizeUninitialized(size_t n);
  void Append(std::string_view bytes);
  void Clear() { size_ = 0; }

  // The capacity a request for `n` bytes gets: size classes, so buffers are interchangeable.
  static size_t CapacityFor(size_t n);

 private:
  void Release();
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  bool mapped_ = false;
};

struct BufferPoolOptions {
  // Idle buffers the pool holds at most, in bytes of capacity; a buffer given back over this bound
  // is freed at once.
  size_t max_idle_bytes = 64u << 20;
  // Idle buffers kept however long they stay idle, smallest first, up to this many bytes.
  size_t warm_bytes = 4u << 20;
  // Idle buffers beyond warm_bytes are freed once they have been idle this long.
  std::chrono::milliseconds idle_release{5000};
};

struct BufferPoolStats {
  uint64_t acquired = 0;      // Acquire calls
  uint64_t reused = 0;        // ... served from an idle buffer
  uint64_t allocated = 0;     // ... that allocated a new buffer
  uint64_t freed = 0;         // buffers freed (over the bound, or idle too long)
  size_t idle_bytes = 0;      // capacity held idle now
  size_t idle_buffers = 0;
  size_t leased_bytes = 0;    // capacity handed out and not yet given back
};

// A thread-safe pool of ByteBuffers, bounded in bytes. Acquire gives the smallest idle buffer
// that fits (else a new one), Release takes it back. Trim frees buffers that stayed idle; it runs
// on Acquire/Release at most once a second and from the service's timer.
class BufferPool {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit BufferPool(BufferPoolOptions options = {});
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A cleared buffer with capacity >= `min_capacity`.
  ByteBuffer Acquire(size_t min_capacity, TimePoint now = std::chrono::steady_clock::now());
  // Gives a buffer back (its contents are dropped). A moved-from or empty-capacity one is ignored.
  void Release(ByteBuffer buffer, TimePoint now = std::chrono::steady_clock::now());
  // Frees idle buffers per the options. Returns the bytes freed.
  size_t Trim(TimePoint now = std::chrono::steady_clock::now());

  BufferPoolStats stats() const;
  const BufferPoolOptions& options() const { return options_; }

 private:
  struct Idle {
    ByteBuffer buffer;
    TimePoint since;
  };
  size_t TrimLocked(TimePoint now, std::vector<ByteBuffer>* to_free);

  const BufferPoolOptions options_;
  mutable std::mutex mu_;
  std::vector<Idle> idle_;  // sorted by capacity, ascending
  TimePoint last_trim_{};
  BufferPoolStats stats_;
};

// A buffer on loan: goes back to its pool when the lease ends.
class BufferLease {
 public:
  BufferLease() = default;
  BufferLease(BufferPool* pool, size_t min_capacity)
      : pool_(pool), buffer_(pool ? pool->Acquire(min_capacity) : ByteBuffer(min_capacity)) {}
  ~BufferLease() { Return(); }
  BufferLease(BufferLease&& o) noexcept : pool_(o.pool_), buffer_(std::move(o.buffer_)) {
    o.pool_ = nullptr;
  }
  BufferLease& operator=(BufferLease&& o) noexcept {
    if (this != &o) {
      Return();
      pool_ = o.pool_;
      buffer_ = std::move(o.buffer_);
      o.pool_ = nullptr;
    }
    return *this;
  }
  ByteBuffer& operator*() { return buffer_; }
  ByteBuffer* operator->() { return &buffer_; }
  // Gives the buffer back now (the lease is empty afterwards).
  void Return() {
    if (pool_ != nullptr) pool_->Release(std::move(buffer_));
    pool_ = nullptr;
    buffer_ = ByteBuffer();
  }

 private:
  BufferPool* pool_ = nullptr;
  ByteBuffer buffer_;
};

}  // namespace llmobs_edge::plugin
