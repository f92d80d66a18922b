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

// The trace is copied once, from the executor's pooled region into a JS Buffer. (Handing JS
// an external buffer instead is slower: freed only at GC, every run faults in fresh pages.)
Napi::Buffer<uint8_t> Take(Napi::Env env, const uint8_t *trace, size_t len, void *handle) {
  Napi::Buffer<uint8_t> b = Napi::Buffer<uint8_t>::Copy(env, trace, len);
  kx_release(handle);
  return b;
}

class RunWorker : public Napi::AsyncWorker {
 public:
  // The program is copied: JS may change the Buffer while the worker runs, and the executor
  // validates once, then trusts what it validated.
  RunWorker(Napi::Env env, const uint8_t *p, size_t n)
      : Napi::AsyncWorker(env, "kasync.run"), prog_(p, p + n), deferred_(Napi::Promise::Deferred::New(env)) {}
  ~RunWorker() override { kx_release(handle_); }  // only if OnOK did not take it
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    trace_ = kx_run_region(prog_.data(), prog_.size(), KX_INPROC, &handle_, &len_);
    if (!trace_) SetError("kasync: no memory for the trace");
  }
  void OnOK() override {
    deferred_.Resolve(Take(Env(), trace_, len_, handle_));
    handle_ = nullptr;
  }
  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

 private:
  std::vector<uint8_t> prog_;
  Napi::Promise::Deferred deferred_;
  const uint8_t *trace_ = nullptr;
  void *handle_ = nullptr;
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
  void *handle = nullptr;
  size_t len = 0;
  const uint8_t *trace = kx_run_region(prog.data(), prog.size(), KX_INPROC, &handle, &len);
  if (!trace) {
    Napi::Error::New(env, "kasync: no memory for the trace").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Take(env, trace, len, handle);
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
