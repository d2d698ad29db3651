"""cc_grpc_library: C++ code for .proto files, generated with the system protoc and gRPC plugin.

Bazel 4.2.3 offline has no protobuf source repository, so proto_library/cc_proto_library are not
available; this macro runs Debian's protoc (and grpc_cpp_plugin when `grpc`) in a genrule and wraps
the output in a cc_library. Imports and includes are workspace-relative ("proto/x.proto",
"proto/x.pb.h").
"""

def cc_grpc_library(name, srcs, deps = [], grpc = False, visibility = None):
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc"]
        if grpc:
            outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]

    native.filegroup(
        name = name + "_protos",
        srcs = srcs + [dep + "_protos" for dep in deps],
        visibility = visibility,
    )

    plugin = ""
    if grpc:
        plugin = " --grpc_out=$(GENDIR) --plugin=protoc-gen-grpc=$$(command -v grpc_cpp_plugin)"
    native.genrule(
        name = name + "_codegen",
        srcs = srcs + [dep + "_protos" for dep in deps],
        outs = outs,
        cmd = "protoc --proto_path=. --cpp_out=$(GENDIR)" + plugin + " " +
              " ".join(["$(location " + src + ")" for src in srcs]),
    )

    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + ["//third_party:protobuf"] + (["//third_party:grpcpp"] if grpc else []),
        visibility = visibility,
    )
