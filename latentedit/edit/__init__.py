"""latentedit.edit"""
