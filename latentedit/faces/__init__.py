"""latentedit.faces"""
