#include "plugin/api/buffer_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <utility>

namespace llmobs_edge::plugin {
namespace {

// Buffers of at least this capacity are their own anonymous mapping: freeing one returns its
// pages to the OS at once, and a pooled one keeps them resident.
constexpr size_t kMapThreshold = 256u << 10;
constexpr size_t kHugePage = 2u << 20;
constexpr size_t kMinCapacity = 4096;

char* Allocate(size_t capacity, bool* mapped) {
  if (capacity >= kMapThreshold) {
    void* p = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    // One fault per 2 MiB instead of one per 4 KiB the first time the buffer is filled. Advice
    // only: where transparent huge pages are off, nothing changes.
    if (capacity >= kHugePage) madvise(p, capacity, MADV_HUGEPAGE);
#endif
    *mapped = true;
    return static_cast<char*>(p);
  }
  *mapped = false;
  return new char[capacity];  // default-initialized: no zero fill
}

void Free(char* p, size_t capacity, bool mapped) {
  if (p == nullptr) return;
  if (mapped) {
    munmap(p, capacity);
  } else {
    delete[] p;
  }
}

}  // namespace

size_t ByteBuffer::CapacityFor(size_t n) {
  if (n <= kMinCapacity) return kMinCapacity;
  // Powers of two: a pooled buffer fits every request up to twice the size of the one it was made
  // for. Untouched pages of a mapping cost no memory, so the rounding costs address space only.
  return std::bit_ceil(n);
}

ByteBuffer::ByteBuffer(size_t capacity) {
  if (capacity == 0) return;
  capacity_ = CapacityFor(capacity);
  data_ = Allocate(capacity_, &mapped_);
}

ByteBuffer::~ByteBuffer() { Release(); }

ByteBuffer::ByteBuffer(ByteBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      mapped_(std::exchange(other.mapped_, false)) {}

ByteBuffer& ByteBuffer::operator=(ByteBuffer&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    mapped_ = std::exchange(other.mapped_, false);
  }
  return *this;
}

void ByteBuffer::Release() {
  Free(data_, capacity_, mapped_);
  data_ = nullptr;
  size_ = capacity_ = 0;
  mapped_ = false;
}

void ByteBuffer::ResizeUninitialized(size_t n) {
  if (n > capacity_) {
    const size_t capacity = CapacityFor(n);
    bool mapped = false;
    char* p = Allocate(capacity, &mapped);
    if (size_ > 0) std::memcpy(p, data_, size_);
    Free(data_, capacity_, mapped_);
    data_ = p;
    capacity_ = capacity;
    mapped_ = mapped;
  }
  size_ = n;
}

void ByteBuffer::Append(std::string_view bytes) {
  const size_t at = size_;
  ResizeUninitialized(size_ + bytes.size());
  if (!bytes.empty()) std::memcpy(data_ + at, bytes.data(), bytes.size());
}

BufferPool::BufferPool(BufferPoolOptions options) : options_(options) {}

BufferPool::~BufferPool() = default;

ByteBuffer BufferPool::Acquire(size_t min_capacity, TimePoint now) {
  const size_t want = ByteBuffer::CapacityFor(min_capacity);
  std::vector<ByteBuffer> to_free;
  ByteBuffer out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.acquired;
    auto it = std::lower_bound(idle_.begin(), idle_.end(), want,
                               [](const Idle& i, size_t c) { return i.buffer.capacity() < c; });
    // A much bigger buffer stays for the big request it was made for.
    if (it != idle_.end() && it->buffer.capacity() <= 4 * want) {
      out = std::move(it->buffer);
      idle_.erase(it);
      stats_.idle_bytes -= out.capacity();
      stats_.leased_bytes += out.capacity();
      ++stats_.reused;
    }
    if (now - last_trim_ >= std::chrono::seconds(1)) TrimLocked(now, &to_free);
  }
  if (out.capacity() == 0) {
    out = ByteBuffer(want);  // allocated outside the lock
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.allocated;
    stats_.leased_bytes += out.capacity();
  }
  out.Clear();
  return out;  // to_free's buffers are freed outside the lock
}

void BufferPool::Release(ByteBuffer buffer, TimePoint now) {
  if (buffer.capacity() == 0) return;
  buffer.Clear();
  std::vector<ByteBuffer> to_free;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.leased_bytes -= std::min(stats_.leased_bytes, buffer.capacity());
    if (stats_.idle_bytes + buffer.capacity() > options_.max_idle_bytes) {
      ++stats_.freed;
      to_free.push_back(std::move(buffer));
    } else {
      stats_.idle_bytes += buffer.capacity();
      const size_t cap = buffer.capacity();
      auto it = std::lower_bound(idle_.begin(), idle_.end(), cap,
                                 [](const Idle& i, size_t c) { return i.buffer.capacity() < c; });
      idle_.insert(it, Idle{std::move(buffer), now});
    }
    if (now - last_trim_ >= std::chrono::seconds(1)) TrimLocked(now, &to_free);
  }
}

size_t BufferPool::Trim(TimePoint now) {
  std::vector<ByteBuffer> to_free;
  std::lock_guard<std::mutex> lock(mu_);
  return TrimLocked(now, &to_free);
}

size_t BufferPool::TrimLocked(TimePoint now, std::vector<ByteBuffer>* to_free) {
  last_trim_ = now;
  size_t warm = 0, freed = 0;
  for (auto it = idle_.begin(); it != idle_.end();) {
    const size_t cap = it->buffer.capacity();
    if (warm + cap <= options_.warm_bytes) {
      warm += cap;
      ++it;
      continue;
    }
    if (now - it->since >= options_.idle_release) {
      freed += cap;
      stats_.idle_bytes -= cap;
      ++stats_.freed;
      to_free->push_back(std::move(it->buffer));
      it = idle_.erase(it);
    } else {
      ++it;
    }
  }
  return freed;
}

BufferPoolStats BufferPool::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  BufferPoolStats s = stats_;
  s.idle_buffers = idle_.size();
  return s;
}

}  // namespace llmobs_edge::plugin
