// Fuzzes the stream side: splitting size-prefixed frames with a small limit,
// then reading each frame's request header, for any API key and version.
#include <kwire/framing/frame.hpp>
#include <kwire/framing/request.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kwire::FrameSplitter splitter(4096);
  kwire::bytes_view stream(data, size);
  while (true) {
    auto st = splitter.next(stream);
    if (st.kind != kwire::FrameStatus::complete) break;
    kwire::RequestFrame frame;
    if (kwire::read_request_header(st.frame, frame)) {
      if (frame.body.data() < st.frame.data() || frame.body.data() + frame.body.size() != st.frame.data() + st.frame.size())
        __builtin_trap();
    }
    stream = stream.subspan(st.consumed);
  }
  return 0;
}
