// Module Distillation: see Package.swift for its job. (Skeleton; replaced by the module's first real file.)
