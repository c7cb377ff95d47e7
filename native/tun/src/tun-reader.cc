// TunReader: reads packets from a non-blocking TUN descriptor on the Node event loop.
//
// A uv_poll_t watches the descriptor for readability. Each wake-up reads until EAGAIN (at most
// `maxBatch` packets) and hands the packets to JavaScript in one call, so a burst costs one
// crossing into JavaScript instead of one per packet. fs.read on the descriptor would instead
// park a thread-pool thread per pending read, and net.Socket rejects a TUN descriptor.
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "tun.h"

namespace {

// Largest IPv4 packet; a TUN read returns one whole packet, and a shorter buffer truncates it.
constexpr size_t kMaxPacketBytes = 65535;

struct Reader {
  napi_env env = nullptr;
  uv_poll_t poll;
  int fd = -1;
  uint32_t max_batch = 64;
  napi_ref callback = nullptr;
  // A strong reference to the JavaScript object while polling, so it is not collected while the
  // loop can still call back into it.
  napi_ref self = nullptr;
  napi_async_context async_context = nullptr;
  bool polling = false;
  bool handle_closed = false;
  bool wrapper_finalized = false;
  std::vector<char> buffer = std::vector<char>(kMaxPacketBytes);
};

void MaybeDelete(Reader* reader) {
  if (reader->handle_closed && reader->wrapper_finalized) delete reader;
}

void OnHandleClosed(uv_handle_t* handle) {
  Reader* reader = static_cast<Reader*>(handle->data);
  reader->handle_closed = true;
  MaybeDelete(reader);
}

// Stops polling and releases the references; safe to call more than once.
void StopReader(Reader* reader) {
  if (!reader->polling) return;
  reader->polling = false;
  uv_poll_stop(&reader->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&reader->poll), OnHandleClosed);
  if (reader->self != nullptr) {
    napi_delete_reference(reader->env, reader->self);
    reader->self = nullptr;
  }
}

void CallBack(Reader* reader, napi_value error, napi_value packets) {
  napi_env env = reader->env;
  napi_value callback;
  napi_value receiver;
  if (napi_get_reference_value(env, reader->callback, &callback) != napi_ok || callback == nullptr) return;
  // napi_make_callback requires an object receiver; the callback ignores `this`.
  napi_get_global(env, &receiver);
  napi_value argv[2] = {error, packets};
  napi_value ignored;
  // napi_make_callback runs microtasks and async hooks as any other I/O callback would.
  napi_status status = napi_make_callback(env, reader->async_context, receiver, callback, 2, argv, &ignored);
  if (status == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
}

void OnReadable(uv_poll_t* handle, int status, int /*events*/) {
  Reader* reader = static_cast<Reader*>(handle->data);
  if (!reader->polling) return;
  napi_env env = reader->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);

  napi_value packets;
  napi_create_array(env, &packets);
  uint32_t count = 0;
  int read_errno = status < 0 ? -status : 0;
  while (read_errno == 0 && count < reader->max_batch) {
    ssize_t size = read(reader->fd, reader->buffer.data(), reader->buffer.size());
    if (size < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) read_errno = errno;
      break;
    }
    napi_value packet;
    void* ignored;
    napi_create_buffer_copy(env, static_cast<size_t>(size), reader->buffer.data(), &ignored, &packet);
    napi_set_element(env, packets, count++, packet);
  }

  napi_value error;
  napi_get_null(env, &error);
  if (read_errno != 0) {
    // A failed read (for example EBADFD after the device was removed) ends the reader: the
    // packets read before it are still delivered, together with the error.
    napi_value message;
    napi_value code;
    std::string text = std::string("read from TUN descriptor failed: ") + strerror(read_errno);
    napi_create_string_utf8(env, text.c_str(), NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, nullptr, message, &error);
    napi_create_int32(env, read_errno, &code);
    napi_set_named_property(env, error, "errno", code);
    StopReader(reader);
  }
  if (count > 0 || read_errno != 0) CallBack(reader, error, packets);
  napi_close_handle_scope(env, scope);
}

void FinalizeReader(napi_env env, void* data, void* /*hint*/) {
  Reader* reader = static_cast<Reader*>(data);
  StopReader(reader);
  if (reader->callback != nullptr) napi_delete_reference(env, reader->callback);
  if (reader->async_context != nullptr) napi_async_destroy(env, reader->async_context);
  // Every wrapped reader started polling, so its handle is closed or closing by now and
  // OnHandleClosed deletes the reader if it has not run yet.
  reader->wrapper_finalized = true;
  MaybeDelete(reader);
}

Reader* Unwrap(napi_env env, napi_callback_info info) {
  napi_value self;
  napi_get_cb_info(env, info, nullptr, nullptr, &self, nullptr);
  void* data = nullptr;
  napi_unwrap(env, self, &data);
  return static_cast<Reader*>(data);
}

// new TunReader(fd: number, callback: (error: Error | null, packets: Buffer[]) => void, maxBatch = 64)
napi_value Construct(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_value self;
  napi_get_cb_info(env, info, &argc, argv, &self, nullptr);
  int32_t fd = -1;
  napi_valuetype callback_type = napi_undefined;
  if (argc >= 2) napi_typeof(env, argv[1], &callback_type);
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0 || callback_type != napi_function) {
    napi_throw_type_error(env, nullptr, "TunReader expects (fd: number >= 0, callback: function, maxBatch?: number)");
    return nullptr;
  }
  uint32_t max_batch = 64;
  if (argc >= 3) {
    napi_valuetype batch_type;
    napi_typeof(env, argv[2], &batch_type);
    if (batch_type == napi_number) napi_get_value_uint32(env, argv[2], &max_batch);
    if (max_batch == 0) max_batch = 1;
  }

  Reader* reader = new Reader();
  reader->env = env;
  reader->fd = fd;
  reader->max_batch = max_batch;
  reader->poll.data = reader;
  napi_create_reference(env, argv[1], 1, &reader->callback);
  napi_value resource_name;
  napi_create_string_utf8(env, "TunReader", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, self, resource_name, &reader->async_context);

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  int rc = uv_poll_init(loop, &reader->poll, fd);
  if (rc == 0) rc = uv_poll_start(&reader->poll, UV_READABLE, OnReadable);
  if (rc != 0) {
    napi_async_destroy(env, reader->async_context);
    napi_delete_reference(env, reader->callback);
    delete reader;
    return ThrowErrno(env, "polling the TUN descriptor", -rc);
  }
  reader->polling = true;
  napi_wrap(env, self, reader, FinalizeReader, nullptr, nullptr);
  napi_create_reference(env, self, 1, &reader->self);
  return self;
}

// stop(): no callback runs after it returns. The descriptor stays open; the caller closes it.
napi_value Stop(napi_env env, napi_callback_info info) {
  Reader* reader = Unwrap(env, info);
  if (reader != nullptr) StopReader(reader);
  return nullptr;
}

// unref()/ref(): whether an active reader keeps the process alive, as for net.Socket.
napi_value SetRef(napi_env env, napi_callback_info info, bool keep_alive) {
  Reader* reader = Unwrap(env, info);
  if (reader != nullptr && reader->polling) {
    uv_handle_t* handle = reinterpret_cast<uv_handle_t*>(&reader->poll);
    if (keep_alive) uv_ref(handle);
    else uv_unref(handle);
  }
  return nullptr;
}

napi_value Ref(napi_env env, napi_callback_info info) { return SetRef(env, info, true); }
napi_value Unref(napi_env env, napi_callback_info info) { return SetRef(env, info, false); }

}  // namespace

napi_status InitTunReader(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"stop", nullptr, Stop, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"ref", nullptr, Ref, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unref", nullptr, Unref, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_value constructor;
  napi_status status = napi_define_class(env, "TunReader", NAPI_AUTO_LENGTH, Construct, nullptr, 3, methods, &constructor);
  if (status != napi_ok) return status;
  return napi_set_named_property(env, exports, "TunReader", constructor);
}
