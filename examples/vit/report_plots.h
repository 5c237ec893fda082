// The two gnuplot pictures of lg-vit's report (used by report.cpp): each
// writes its data and script into a work folder and renders one PNG.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "report.h"

namespace vit {

// The heat map of matrix (class names on both axes, counts in the cells, a
// colour bar) rendered into png. Returns empty on success, otherwise why not.
std::string plot_confusion_matrix(const std::filesystem::path& gnuplot,
                                  const std::filesystem::path& work, const ConfusionMatrix& matrix,
                                  const std::vector<std::string>& class_names,
                                  const std::filesystem::path& png);

// A grid of the images predictions.images[shown[k]], each titled with its true
// and predicted class; misclassified is how many there are in all (for the
// title). Returns empty on success, otherwise why not.
std::string plot_misclassified(const std::filesystem::path& gnuplot,
                               const std::filesystem::path& work,
                               const TestPredictions& predictions,
                               const std::vector<int64_t>& shown, int64_t misclassified,
                               const std::vector<std::string>& class_names,
                               const std::filesystem::path& png);

}  // namespace vit
