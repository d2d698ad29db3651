// Tests of `llmobs-edge ledger`: stats, dump and requeue-dead-letters on a real RocksDB ledger.

#include "plugin/host/ledger_command.h"

#include <cstdlib>
#include <sstream>

#include "dedup/rocks_ledger.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "plugin/api/clock.h"
#include "plugin/host/config/config.h"

namespace llmobs_edge::plugin {
namespace {

std::string TempDir(const std::string& name) {
  const char* t = std::getenv("TEST_TMPDIR");
  return std::string(t ? t : "/tmp") + "/" + name;
}

int RunCommand(const config::Config& c, LedgerCommandOptions o, std::string* out, std::string* err) {
  std::ostringstream o1, o2;
  const int rc = RunLedgerCommand(c, o, o1, o2);
  *out = o1.str();
  *err = o2.str();
  return rc;
}

TEST(LedgerCommand, StatsDumpAndRequeueOnAStoppedEdgesLedger) {
  config::Config c = config::DefaultConfig();
  c.mutable_ledger()->set_path(TempDir("ledger-cmd"));
  {
    SystemClock clock;
    dedup::RocksLedgerOptions lo;
    lo.path = c.ledger().path();
    auto ledger = dedup::OpenRocksLedger(lo, &clock, nullptr);
    ASSERT_TRUE(ledger.ok()) << ledger.status();
    const std::vector<dedup::PendingEvent> events = {
        {{"t1", 1}, R"({"spans":[{"span_id":"1"}]})"}, {{"t1", 2}, R"({"spans":[{"span_id":"2"}]})"}};
    ASSERT_TRUE((*ledger)->Commit(events).ok());
    auto records = (*ledger)->PeekOutbox(10, 1 << 20);
    ASSERT_TRUE(records.ok());
    const uint64_t seq = (*records)[0].seq;
    ASSERT_TRUE((*ledger)->DeadLetter({&seq, 1}, "400").ok());
  }
  std::string out, err;
  ASSERT_EQ(RunCommand(c, {.action = "stats"}, &out, &err), 0) << err;
  nlohmann::json stats = nlohmann::json::parse(out);
  EXPECT_EQ(stats["outbox_records"], 1);
  EXPECT_EQ(stats["dead_letters"], 1);

  ASSERT_EQ(RunCommand(c, {.action = "dump", .with_events = true}, &out, &err), 0) << err;
  const nlohmann::json line = nlohmann::json::parse(out.substr(0, out.find('\n')));
  EXPECT_EQ(line["span_id"], "2");
  EXPECT_EQ(line["envelope"]["spans"][0]["span_id"], "2");

  ASSERT_EQ(RunCommand(c, {.action = "requeue-dead-letters"}, &out, &err), 0) << err;
  EXPECT_EQ(out, "requeued 1 dead letters; the next start delivers them\n");
  ASSERT_EQ(RunCommand(c, {.action = "stats"}, &out, &err), 0);
  stats = nlohmann::json::parse(out);
  EXPECT_EQ(stats["outbox_records"], 2);
  EXPECT_EQ(stats["dead_letters"], 0);
}

TEST(LedgerCommand, UnknownActionAndUnopenableLedgerExitTwo) {
  config::Config c = config::DefaultConfig();
  c.mutable_ledger()->set_path(TempDir("ledger-cmd2"));
  std::string out, err;
  EXPECT_EQ(RunCommand(c, {.action = "compact"}, &out, &err), 2);
  EXPECT_NE(err.find("unknown action"), std::string::npos);
  c.mutable_ledger()->set_path("/proc/no-such/ledger");
  EXPECT_EQ(RunCommand(c, {.action = "stats"}, &out, &err), 2);
  EXPECT_NE(err.find("ledger.path"), std::string::npos) << err;
}

}  // namespace
}  // namespace llmobs_edge::plugin
