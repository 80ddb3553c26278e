"""The self-contained HTML report of one traced step (`page.build_report`): the document and its
tokens, the loss per position, the block graph, attention, gradient flow, statistics, top gradient
paths and the doctor's findings, figures inlined. Its template and style sheet are package data
(`page.html`, `report.css`).

Imports: `microtrace.tracer` and the other figure packages of `microtrace.viz` (never `cli`).
"""
