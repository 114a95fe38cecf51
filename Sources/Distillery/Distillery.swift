import ArgumentParser

@main
struct DistilleryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distillery",
        abstract: "Distil BERT-family models through an offline teacher cache.",
        version: "0.1.0"
    )
}
