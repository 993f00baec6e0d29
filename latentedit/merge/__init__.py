"""latentedit.merge"""
