// stockgrid: one node of the stock grid (usage: app/run_node.hpp).
#include "app/run_node.hpp"

int main(int argc, char** argv) { return stockgrid::app::run_node(argc, argv, {}); }
