// See netns.h. The namespace is entered on a dedicated thread because setns(CLONE_NEWNET) on
// Node's main thread would move every later socket Node opens; a socket (or tap device) keeps
// the namespace it was created in after the thread is gone.
#include "netns.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
#include <cerrno>
#include <thread>

namespace moat {

int RunInNetns(const std::string& name, const std::function<void()>& work, std::string* failedCall) {
  int result = 0;
  std::thread t([&]() {
    if (!name.empty()) {
      std::string path = name[0] == '/' ? name : "/var/run/netns/" + name;
      int nsfd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (nsfd < 0) {
        result = errno;
        if (failedCall) *failedCall = "open(" + path + ")";
        return;
      }
      if (setns(nsfd, CLONE_NEWNET) < 0) {
        result = errno;
        close(nsfd);
        if (failedCall) *failedCall = "setns(" + path + ")";
        return;
      }
      close(nsfd);
    }
    work();
  });
  t.join();
  return result;
}

}  // namespace moat
