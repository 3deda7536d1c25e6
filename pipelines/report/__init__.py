"""Briefings and circulars: what leaves the product for a meeting or a 通报 (.docx, .pdf, .pptx, PNG)."""
