"""The registry of units (统计用区划代码): loading NBS division files and boundaries, and looking units up."""
