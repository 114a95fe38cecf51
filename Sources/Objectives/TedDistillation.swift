import Foundation
import Kernels

// TED (Liang et al. 2023, "Less is More: Task-aware Layer-wise Distillation for Language Model Compression";
// definitions in docs/objectives.md §11). Both stages read only the teacher's hidden states, so both run
// from the cache. Same conventions as every loss here: the unweighted loss is returned; weight · ∂loss/∂input is
// ADDED into `gradient` when it is not nil. The backward pass runs when `learn` is true or `gradient` is not nil,
// and then also ADDS weight · ∂loss/∂θ into the trainable filter's (and head's) `gradients`.

/// Stage one, one teacher filter: the task cross-entropy of the filter's head on the [CLS] rows,
///
///     loss = (1/R) Σ_r −log softmax(head(filter(x[r])))[y_r]
///
/// over the R rows whose label is not −100. The trainer averages this over the filters.
/// input x (rows, C) the teacher's hidden state at [CLS], one row per sequence; labels (rows);
/// gradient (rows, C) or nil.
@discardableResult
public func tedTaskLoss(
    gradient: UnsafeMutablePointer<Float>?, weight: Float, learn: Bool,
    filter: TedFilter, head: TedTaskHead,
    input: UnsafePointer<Float>, labels: UnsafePointer<Int32>, rows: Int
) -> Double {
    precondition(filter.width == head.width, "tedTaskLoss: filter width \(filter.width), head width \(head.width)")
    filter.forward(input, rows: rows)
    head.forward(filter.output.pointer, rows: rows)
    let backward = learn || gradient != nil
    let dlogits = head.logitsGradient.pointer
    if backward { dlogits.update(repeating: 0, count: rows * head.classes) }
    let loss = crossEntropyLoss(gradient: backward ? dlogits : nil, weight: weight, logits: head.logits.pointer, labels: labels,
                                rows: rows, classes: head.classes)
    guard backward else { return loss }
    let dcls = filter.outputGradient.pointer
    dcls.update(repeating: 0, count: rows * filter.width)
    head.backward(dcls, dlogits, filter.output.pointer, rows: rows)
    filter.backward(gradient, dcls, input, rows: rows)
    return loss
}

/// Stage two, one student:teacher layer pair: the hidden-state MSE (definitions §6) between the filtered states,
///
///     loss = (1/(N·F)) Σ_{real b,t} Σ_j (f_s(h_s)[b,t,j] − f_t(h_t)[b,t,j])²
///
/// f_t the frozen teacher filter, f_s the student's (learned with `learn`). Several pairs: the trainer averages.
/// student h_s (batch, seq, C_s), teacher h_t (batch, seq, C_t); mask (batch, seq), 1 = real, a prefix of each
/// row; gradient (batch, seq, C_s) or nil. Padding tokens get no gradient.
@discardableResult
public func tedMSELoss(
    gradient: UnsafeMutablePointer<Float>?, weight: Float, learn: Bool,
    studentFilter: TedFilter, teacherFilter: TedFilter,
    student: UnsafePointer<Float>, teacher: UnsafePointer<Float>, mask: UnsafePointer<Int32>,
    batch: Int, seq: Int
) -> Double {
    precondition(studentFilter.width == teacherFilter.width,
                 "tedMSELoss: student filter width \(studentFilter.width), teacher filter width \(teacherFilter.width)")
    let rows = batch * seq, width = studentFilter.width
    teacherFilter.forward(teacher, rows: rows)
    studentFilter.forward(student, rows: rows)
    let backward = learn || gradient != nil
    let dout = backward ? studentFilter.outputGradient.pointer : nil
    dout?.update(repeating: 0, count: rows * width)
    let loss = hiddenMSELoss(gradient: dout, weight: weight, student: studentFilter.output.pointer, teacher: teacherFilter.output.pointer,
                             mask: mask, batch: batch, seq: seq, width: width)
    guard let dout else { return loss }
    studentFilter.backward(gradient, dout, student, rows: rows)
    return loss
}
