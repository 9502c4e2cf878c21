@main struct Tus { static func main() {} }
