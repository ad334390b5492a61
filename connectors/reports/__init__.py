"""A report written as files: an Excel workbook and a PDF with charts."""
