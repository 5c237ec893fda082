#include <doctest/doctest.h>
#include <lasergrad/lasergrad.h>
using namespace lg;
