// The server clock: Unix epoch milliseconds. Hold deadlines use it, so it is
// wall-clock time; timers are scheduled by the difference to now.
#pragma once

#include <chrono>

#include "domain/types.hpp"

namespace stockgrid::actors {

inline epoch_ms now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace stockgrid::actors
