import MetricsTestKit

extension TestMetrics {
    /// The sum of every counter called `label` whose dimensions include
    /// all of `dimensions`.
    func total(_ label: String, _ dimensions: [(String, String)] = []) -> Int64 {
        counters.filter { counter in
            counter.label == label && dimensions.allSatisfy { wanted in counter.dimensions.contains { $0 == wanted } }
        }.map(\.totalValue).reduce(0, +)
    }
}
