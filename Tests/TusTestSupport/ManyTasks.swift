/// Runs 1,000 small tasks, each yielding once to the others, and returns
/// whether each gave back its own result: a test that holds a lock, a disk
/// or a server elsewhere calls it to show that the task threads are free
/// meanwhile (were they waiting, this would not return).
public func aThousandTasksRun() async -> Bool {
    let sum = await withTaskGroup(of: Int.self) { group in
        for index in 0..<1000 {
            group.addTask {
                await Task.yield()
                return (index * index) % 11
            }
        }
        return await group.reduce(0, +)
    }
    return sum == (0..<1000).reduce(0) { $0 + ($1 * $1) % 11 }
}
