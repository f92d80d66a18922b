// kasync.node: the in-process front door (WIRE.md). Runs programs with the executor in
// KX_INPROC mode, which refuses process-level steps.
//   run(program: Buffer, out?: Buffer): Promise<Buffer | number>   runs on the libuv pool; rejects with TypeError
//   runSync(program: Buffer, out?: Buffer): Buffer | number        throws TypeError for a non-Buffer
// With `out`, a trace that fits is copied into it and the result is its length (warm memory the
// caller reuses: a fresh Buffer per run costs page faults on every trace); otherwise the result is
// a fresh Buffer. The caller must not touch `out` until the call returns.
//   version(): number                       wire version
#include <napi.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "exec.h"

namespace {

// The trace is copied once, from the executor's pooled region into a JS Buffer. (Handing JS
// an external buffer instead is slower: freed only at GC, every run faults in fresh pages.)
Napi::Value Take(Napi::Env env, const uint8_t *trace, size_t len, void *handle, Napi::Value out) {
  Napi::Value result;
  if (out.IsBuffer() && out.As<Napi::Buffer<uint8_t>>().Length() >= len) {
    memcpy(out.As<Napi::Buffer<uint8_t>>().Data(), trace, len);
    result = Napi::Number::New(env, (double)len);
  } else {
    result = Napi::Buffer<uint8_t>::Copy(env, trace, len);
  }
  kx_release(handle);
  return result;
}

// The optional second argument: a Buffer to copy the trace into, or nothing.
bool OutOk(const Napi::CallbackInfo &info) { return info.Length() < 2 || info[1].IsUndefined() || info[1].IsBuffer(); }

class RunWorker : public Napi::AsyncWorker {
 public:
  // The program is copied: JS may change the Buffer while the worker runs, and the executor
  // validates once, then trusts what it validated.
  RunWorker(Napi::Env env, const uint8_t *p, size_t n, Napi::Value out)
      : Napi::AsyncWorker(env, "kasync.run"), prog_(p, p + n), deferred_(Napi::Promise::Deferred::New(env)) {
    if (out.IsBuffer()) out_ = Napi::Persistent(out.As<Napi::Object>());
  }
  ~RunWorker() override { kx_release(handle_); }  // only if OnOK did not take it
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    trace_ = kx_run_region(prog_.data(), prog_.size(), KX_INPROC, &handle_, &len_);
    if (!trace_) SetError("kasync: no memory for the trace");
  }
  void OnOK() override {
    deferred_.Resolve(Take(Env(), trace_, len_, handle_, out_.IsEmpty() ? Env().Undefined() : out_.Value()));
    handle_ = nullptr;
  }
  void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

 private:
  std::vector<uint8_t> prog_;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference out_;
  const uint8_t *trace_ = nullptr;
  void *handle_ = nullptr;
  size_t len_ = 0;
};

Napi::Value Run(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer() || !OutOk(info)) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(Napi::TypeError::New(env, "run(program, out?): program and out must be Buffers").Value());
    return d.Promise();
  }
  auto b = info[0].As<Napi::Buffer<uint8_t>>();
  auto *w = new RunWorker(env, b.Data(), b.Length(), info.Length() > 1 ? info[1] : env.Undefined());
  Napi::Promise p = w->Promise();
  w->Queue();  // the worker deletes itself after OnOK/OnError
  return p;
}

Napi::Value RunSync(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer() || !OutOk(info)) {
    Napi::TypeError::New(env, "runSync(program, out?): program and out must be Buffers").ThrowAsJavaScriptException();
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
  return Take(env, trace, len, handle, info.Length() > 1 ? info[1] : env.Undefined());
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
