// kasync.node: the in-process front door (WIRE.md). Runs programs with the executor in
// KX_INPROC mode, which refuses process-level steps.
//   run(program: Buffer): Promise<Buffer>   runs on the libuv pool; rejects with TypeError for a non-Buffer
//   runSync(program: Buffer): Buffer        throws TypeError for a non-Buffer
//   version(): number                       wire version
#include <napi.h>

#include <cstdlib>
#include <vector>

#include "exec.h"

namespace {

// Copies the trace into a JS Buffer and frees it. (Handing the malloc'd block to JS as an
// external buffer is slower: freed only at GC, every run then faults in fresh pages.)
Napi::Buffer<uint8_t> Wrap(Napi::Env env, uint8_t *trace, size_t len) {
  Napi::Buffer<uint8_t> b = Napi::Buffer<uint8_t>::Copy(env, trace, len);
  std::free(trace);
  return b;
}

class RunWorker : public Napi::AsyncWorker {
 public:
  // The program is copied: JS may change the Buffer while the worker runs, and the executor
  // validates once, then trusts what it validated.
  RunWorker(Napi::Env env, const uint8_t *p, size_t n)
      : Napi::AsyncWorker(env, "kasync.run"), prog_(p, p + n), deferred_(Napi::Promise::Deferred::New(env)) {}
  ~RunWorker() override { std::free(trace_); }  // only if OnOK did not take it
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    if (kx_run(prog_.data(), prog_.size(), KX_INPROC, &trace_, &len_) != 0) SetError("kasync: no memory for the trace");
  }
  void OnOK() override {
    deferred_.Resolve(Wrap(Env(), trace_, len_));
    trace_ = nullptr;
  }
  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

 private:
  std::vector<uint8_t> prog_;
  Napi::Promise::Deferred deferred_;
  uint8_t *trace_ = nullptr;
  size_t len_ = 0;
};

Napi::Value Run(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(Napi::TypeError::New(env, "run(program): program must be a Buffer").Value());
    return d.Promise();
  }
  auto b = info[0].As<Napi::Buffer<uint8_t>>();
  auto *w = new RunWorker(env, b.Data(), b.Length());
  Napi::Promise p = w->Promise();
  w->Queue();  // the worker deletes itself after OnOK/OnError
  return p;
}

Napi::Value RunSync(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) {
    Napi::TypeError::New(env, "runSync(program): program must be a Buffer").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto b = info[0].As<Napi::Buffer<uint8_t>>();
  std::vector<uint8_t> prog(b.Data(), b.Data() + b.Length());
  uint8_t *trace = nullptr;
  size_t len = 0;
  if (kx_run(prog.data(), prog.size(), KX_INPROC, &trace, &len) != 0) {
    Napi::Error::New(env, "kasync: no memory for the trace").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Wrap(env, trace, len);
}

Napi::Value Version(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), KX_WIRE_VERSION); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("run", Napi::Function::New(env, Run, "run"));
  exports.Set("runSync", Napi::Function::New(env, RunSync, "runSync"));
  exports.Set("version", Napi::Function::New(env, Version, "version"));
  return exports;
}

}  // namespace

NODE_API_MODULE(kasync, Init)
