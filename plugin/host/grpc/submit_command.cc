#include "plugin/host/grpc/submit_command.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "nlohmann/json.hpp"
#include "proto/ingest.grpc.pb.h"

namespace llmobs_edge::plugin::grpc_ingest {
namespace {

constexpr std::chrono::seconds kDeadline{30};

const char* CodeName(::grpc::StatusCode code) {
  switch (code) {
    case ::grpc::StatusCode::OK: return "OK";
    case ::grpc::StatusCode::CANCELLED: return "CANCELLED";
    case ::grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case ::grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case ::grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case ::grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case ::grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case ::grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case ::grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case ::grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case ::grpc::StatusCode::ABORTED: return "ABORTED";
    case ::grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case ::grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case ::grpc::StatusCode::INTERNAL: return "INTERNAL";
    case ::grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case ::grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case ::grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

}  // namespace

int RunSubmit(const std::string& grpc_address, const std::string& path,
              const std::string& working_dir,
              const std::vector<std::pair<std::string, std::string>>& headers, std::ostream& out,
              std::ostream& err) {
  llmobs_edge::v1::SubmitRequest request;
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    request.set_payload(ss.str());
  } else {
    std::string full = path;
    if (!working_dir.empty() && !path.empty() && path[0] != '/') full = working_dir + "/" + path;
    std::ifstream in(full, std::ios::binary);
    if (!in) {
      err << "llmobs-edge submit: cannot read " << full << "\n";
      return 2;
    }
    request.set_payload(
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
  }
  for (const auto& [name, value] : headers) {
    llmobs_edge::v1::Header* h = request.add_headers();
    h->set_name(name);
    h->set_value(value);
  }

  ::grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // the Agent's body is relayed whole, whatever its size
  args.SetMaxSendMessageSize(-1);     // the edge enforces its own payload limit
  const std::shared_ptr<::grpc::Channel> channel =
      ::grpc::CreateCustomChannel(grpc_address, ::grpc::InsecureChannelCredentials(), args);
  const auto stub = llmobs_edge::v1::TraceIngest::NewStub(channel);
  ::grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kDeadline);
  llmobs_edge::v1::SubmitResponse response;
  const ::grpc::Status status = stub->Submit(&context, request, &response);
  if (!status.ok()) {
    err << "llmobs-edge submit: " << grpc_address << ": " << CodeName(status.error_code()) << ": "
        << status.error_message() << "\n";
    return 2;
  }

  nlohmann::ordered_json doc;
  doc["status"] = response.status();
  nlohmann::ordered_json hs = nlohmann::ordered_json::array();
  for (const auto& h : response.headers()) hs.push_back({h.name(), h.value()});
  doc["headers"] = std::move(hs);
  doc["body"] = response.body();
  nlohmann::ordered_json rates = nlohmann::ordered_json::object();
  // Sorted by key: the protobuf map has no stable order.
  const std::map<std::string, double> sorted(response.rate_by_service().begin(),
                                             response.rate_by_service().end());
  for (const auto& [service, rate] : sorted) rates[service] = rate;
  doc["rate_by_service"] = std::move(rates);
  // A body that is not UTF-8 is shown with U+FFFD replacements rather than failing the dump.
  out << doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  return response.status() >= 200 && response.status() < 300 ? 0 : 1;
}

}  // namespace llmobs_edge::plugin::grpc_ingest
