// PLACEHOLDER until the coordinators land (same session): every order,
// transfer, find and settings op answers INTERNAL.
#include "actors/grid.hpp"

namespace stockgrid {

void grid::order(orders::order_request, std::function<void(orders::order_reply&&)> done) {
  done(orders::order_reply::error(outcome::internal, "orders: not built yet"));
}
void grid::transfer(orders::transfer_request,
                    std::function<void(orders::transfer_reply&&)> done) {
  done(orders::transfer_reply::error(outcome::internal, "transfers: not built yet"));
}
void grid::find(orders::caller, std::string, std::function<void(orders::find_reply&&)> done) {
  orders::find_reply r;
  done(std::move(r));
}
void grid::tenant_settings(orders::settings_request,
                           std::function<void(orders::settings_reply&&)> done) {
  orders::settings_reply r;
  done(std::move(r));
}

}  // namespace stockgrid
