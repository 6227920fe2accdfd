// Incremental fetch sessions (KIP-227), kept as Kafka's broker keeps them.
//
// A consumer that fetches the same partitions again and again sends them
// once, in a full fetch that creates a session; later requests name the
// session and its epoch and carry only what changed (a new fetch offset, an
// added partition, forgotten ones), and the responses carry only partitions
// with something to say (records, an error, a new high watermark or log
// start offset). That keeps both directions small for consumers of many
// partitions.
//
// The request's session id and epoch say what it is:
//   id 0, epoch -1     a full fetch without a session (also Fetch v4-6)
//   id 0, epoch 0      a full fetch that asks for a new session
//   id X, epoch 0      closes X, and asks for a new session
//   id X, epoch -1     closes X; a full fetch without a session
//   id X, epoch N > 0  an incremental fetch of session X: N must be the
//                      session's next epoch
// Errors, as Kafka answers them: FETCH_SESSION_ID_NOT_FOUND for an unknown
// (or evicted) session, INVALID_FETCH_SESSION_EPOCH for a wrong epoch, and
// FETCH_SESSION_TOPIC_ID_ERROR when a session made with topic names (Fetch
// v7-12) is continued with topic ids (v13+) or the other way round.
//
// The cache holds `slots` sessions (max.incremental.fetch.session.cache.slots,
// 1000). When it is full a new session takes the place of one unused for
// `eviction` (two minutes, Kafka's fixed value), else of the smallest session
// older than that if the new one has more partitions, else it gets no
// session (session id 0: the client keeps doing full fetches), as Kafka
// decides. Unlike Kafka, the partitions of all sessions together are bounded
// too (`max_partitions`), so that the memory sessions hold has a limit before
// it is spent; a session that would grow past it is dropped
// (FETCH_SESSION_ID_NOT_FOUND: the client starts over with a full fetch).
//
// Sessions belong to the namespace (`owner`) they were made in. Every call
// takes the cache's lock: one mutex for all threads, held only for map work.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "kwire/messages/error_code.hpp"
#include "storage/types.hpp"

namespace kwire_broker {

/// A partition in a fetch session: by topic name (Fetch v7-12) or by topic
/// id (v13+), never both.
struct FetchKey {
  std::string topic;
  storage::TopicId topic_id{};
  std::int32_t partition = 0;
  friend bool operator==(const FetchKey&, const FetchKey&) = default;
  friend auto operator<=>(const FetchKey&, const FetchKey&) = default;
};

/// What a fetch asks of one partition, and, in a session, what the last
/// response said of it (to leave it out of the next one if nothing changed).
struct FetchWant {
  FetchKey key;
  std::int64_t fetch_offset = 0;
  std::int32_t max_bytes = 0;
  std::int64_t sent_high_watermark = -1;  // -1: never sent, or sent with an error
  std::int64_t sent_log_start = -1;
  std::int64_t sent_last_stable = -1;  // a read_committed consumer waits on it
};

/// What a response says of one partition.
struct FetchSent {
  bool records = false;
  kwire::ErrorCode error = kwire::ErrorCode::None;
  std::int64_t high_watermark = -1;
  std::int64_t log_start = -1;
  std::int64_t last_stable = -1;
};

class FetchSessionCache {
 public:
  struct Options {
    std::size_t slots = 1000;
    std::size_t max_partitions = 200000;
    std::chrono::milliseconds eviction{120000};
  };

  /// How one request is served.
  struct Plan {
    enum class Kind : std::uint8_t { sessionless, full, incremental, error };
    Kind kind = Kind::sessionless;
    kwire::ErrorCode error = kwire::ErrorCode::None;
    std::int32_t session_id = 0;  // incremental
    /// What to read, in order: the request's partitions (sessionless, full)
    /// or every partition of the session (incremental).
    std::vector<FetchWant> partitions;
  };

  explicit FetchSessionCache(Options o);
  FetchSessionCache(const FetchSessionCache&) = delete;
  FetchSessionCache& operator=(const FetchSessionCache&) = delete;
  ~FetchSessionCache();

  /// Reads a request's session fields; for an incremental fetch, applies its
  /// changes to the session (`wanted`: partitions added or changed,
  /// `forgotten`: partitions removed) and moves the session to its next
  /// epoch. `by_id`: the request names topics by id (Fetch v13+).
  Plan begin(const void* owner, std::int32_t session_id, std::int32_t epoch, bool by_id,
             std::vector<FetchWant> wanted, const std::vector<FetchKey>& forgotten, std::int64_t now_ms);

  /// After a full fetch that asked for a session: keeps one of `partitions`
  /// with what the response said of each (`sent`, in the same order).
  /// Returns its id, or 0 when there is no room.
  std::int32_t create(const void* owner, bool by_id, const std::vector<FetchWant>& partitions,
                      const std::vector<FetchSent>& sent, std::int64_t now_ms);

  /// After an incremental fetch: which of the plan's partitions the response
  /// carries, remembering what it says of them. Partitions that carried
  /// records go to the end of the session's order, so that under a response
  /// size limit the others come first next time.
  std::vector<bool> respond(const Plan& plan, const std::vector<FetchSent>& sent);

  /// Makes the session ids that follow a fixed sequence (the fuzz target's
  /// inputs name sessions they create); ids are random otherwise, so that
  /// one client cannot guess another's session.
  void reseed(std::uint32_t seed);

  std::size_t sessions() const;
  std::size_t partitions() const;
  std::uint64_t evictions() const;

 private:
  struct Session;
  using Sessions = std::map<std::int32_t, std::unique_ptr<Session>>;

  bool make_room(std::size_t size, std::int64_t now_ms);  // with mu_ held
  void remove(Sessions::iterator it);                     // with mu_ held
  std::int32_t new_id();                                  // with mu_ held

  const Options options_;
  mutable std::mutex mu_;
  Sessions sessions_;
  std::size_t partitions_ = 0;
  std::uint64_t evictions_ = 0;
  std::mt19937 ids_;
};

}  // namespace kwire_broker
